//! Kubernetes resource quantities (`128Mi`, `1G`, `1.5Gi`, `500m`) as whole numbers of units.

/// The value of a quantity, rounded up to a whole unit (bytes for memory), or None when it is not a
/// valid quantity.
pub fn to_units(q: &str) -> Option<i128> {
    let q = q.trim();
    let split = q
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '+' || c == '-'))
        .unwrap_or(q.len());
    let (number, suffix) = q.split_at(split);
    if number.is_empty() || number.starts_with('-') {
        return None;
    }
    let number = number.strip_prefix('+').unwrap_or(number);
    let (int_part, frac_part) = number.split_once('.').unwrap_or((number, ""));
    if int_part.is_empty() && frac_part.is_empty()
        || !int_part.chars().all(|c| c.is_ascii_digit())
        || !frac_part.chars().all(|c| c.is_ascii_digit())
    {
        return None;
    }
    // value = digits / 10^frac_len * multiplier / divisor
    let digits: i128 = format!("{int_part}{frac_part}").parse().ok()?;
    let frac_scale = 10i128.checked_pow(frac_part.len() as u32)?;
    let (mul, div): (i128, i128) = match suffix {
        "" => (1, 1),
        "m" => (1, 1000),
        "k" => (1_000, 1),
        "M" => (1_000_000, 1),
        "G" => (1_000_000_000, 1),
        "T" => (1_000_000_000_000, 1),
        "P" => (1_000_000_000_000_000, 1),
        "E" => (1_000_000_000_000_000_000, 1),
        "Ki" => (1 << 10, 1),
        "Mi" => (1 << 20, 1),
        "Gi" => (1 << 30, 1),
        "Ti" => (1 << 40, 1),
        "Pi" => (1 << 50, 1),
        "Ei" => (1 << 60, 1),
        s if s.starts_with(['e', 'E']) => {
            let exp: u32 = s[1..].parse().ok()?;
            (10i128.checked_pow(exp)?, 1)
        }
        _ => return None,
    };
    let numerator = digits.checked_mul(mul)?;
    let denominator = frac_scale.checked_mul(div)?;
    Some((numerator + denominator - 1) / denominator)
}

#[cfg(test)]
mod tests {
    use super::to_units;

    #[test]
    fn quantities() {
        for (q, want) in [
            ("128Mi", Some(134_217_728)),
            ("1Gi", Some(1 << 30)),
            ("1.5Gi", Some(1_610_612_736)),
            ("64M", Some(64_000_000)),
            ("1e3", Some(1000)),
            ("100", Some(100)),
            ("500m", Some(1)),
            ("0.5", Some(1)),
            ("1k", Some(1000)),
            ("", None),
            ("Mi", None),
            ("12Xi", None),
            ("-1Mi", None),
            ("1.2.3", None),
        ] {
            assert_eq!(to_units(q), want, "{q}");
        }
    }
}
