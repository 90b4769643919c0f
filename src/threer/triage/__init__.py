"""The triage session: steps as data, answer models, and the engine that walks them."""
