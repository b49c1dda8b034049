"""Evaluations of the paper for any engine model: retrieval (ROCO, PMC-OA), MedMNIST, VQA-RAD/SLAKE, `eval all`.

Every evaluation takes a model through the engine's public API (`engine.models.create_encoder` / `create_model`),
so PMC-CLIP weights, BiomedCLIP, open_clip models and our own exports are scored the same way. Encoding shards
across torchrun ranks (`trainer.evaluate.encode`).
"""
