//! Spin's `{{ name }}` templates: literal text with expressions in double
//! braces; the expression is trimmed and must name a declared variable.

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Part<'a> {
    Lit(&'a str),
    Var(&'a str),
}

/// Splits a template into parts, or says why it is malformed.
pub(super) fn parse(template: &str) -> Result<Vec<Part<'_>>, String> {
    let mut parts = Vec::new();
    let mut rest = template;
    while !rest.is_empty() {
        match rest.find("{{") {
            Some(0) => {
                let Some((expr, after)) = rest[2..].split_once("}}") else {
                    return Err("`{{` is never closed by `}}`".to_owned());
                };
                let expr = expr.trim();
                if expr.is_empty() {
                    return Err("empty `{{ }}` expression".to_owned());
                }
                parts.push(Part::Var(expr));
                rest = after;
            }
            Some(i) => {
                parts.push(Part::Lit(&rest[..i]));
                rest = &rest[i..];
            }
            None => {
                parts.push(Part::Lit(rest));
                rest = "";
            }
        }
    }
    Ok(parts)
}
