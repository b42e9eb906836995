"""Qt-free core: the skill model, models, engine and packages. Runs headless on devices."""
