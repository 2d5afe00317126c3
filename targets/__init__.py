"""Target descriptions (TOML data), shipped as ``edgeslm.target_files``."""
