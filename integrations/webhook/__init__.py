"""Generic signed webhooks (Standard Webhooks): POST hub events as JSON to any URL."""
