"""Configuration: the YAML file (providers, models, rules) and the serve settings."""
