"""core/skill."""
