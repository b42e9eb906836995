"""Node runtimes, one module per node kind; RUNTIMES maps a catalog kind to its runtime."""
