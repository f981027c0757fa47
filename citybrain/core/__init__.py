"""Pure domain logic over frozen types: no I/O, no broker, model or database imports."""
