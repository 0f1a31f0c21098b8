"""Tools that run beside the app, never in Lambda: resource bootstrap, the deploy pipeline."""
