"""Raw model outputs into the project's value types."""
