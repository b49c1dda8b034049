"""Headless trainer: reproduce PMC-CLIP pretraining and evaluation, export models the app loads."""
