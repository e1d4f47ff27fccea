"""Pure shared types: actors, resources, clock, durations. Imports nothing of the app."""
