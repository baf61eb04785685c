//! spin-operator: reconciles `SpinApp` and `SpinAppExecutor` (group `core.spinkube.dev`).
