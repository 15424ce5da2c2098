from config.settings import PROJECT_ROOT, TEMPLATES_DIR, Settings, get_settings, reset_settings_cache

__all__ = ["PROJECT_ROOT", "TEMPLATES_DIR", "Settings", "get_settings", "reset_settings_cache"]
