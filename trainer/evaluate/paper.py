"""The paper's published numbers (%), transcribed in pmc-clip.md §5 from the authors' result tables.

Retrieval is ROCO test, image→text and text→image R@1/5/10 (the reference's 2k-draw protocol); MedMNIST is AUC
and ACC on three subsets (adaptation protocol unpublished); VQA is open/closed/overall accuracy (head unpublished).
"""

from __future__ import annotations

RETRIEVAL_COLUMNS = ("I2T R@1", "I2T R@5", "I2T R@10", "T2I R@1", "T2I R@5", "T2I R@10")
RETRIEVAL = {
    "ViLT": (11.90, 31.90, 43.20, 9.75, 28.95, 41.40),
    "METER": (14.45, 33.30, 45.10, 11.30, 27.25, 39.60),
    "M3AE": (19.10, 45.60, 61.20, 19.05, 47.75, 61.35),
    "ARL": (23.45, 50.60, 62.05, 23.50, 49.05, 63.00),
    "PMC-CLIP": (31.41, 61.15, 71.88, 28.02, 58.33, 69.69),
}

MEDMNIST_SUBSETS = ("pneumoniamnist", "breastmnist", "dermamnist")
MEDMNIST_COLUMNS = ("Pneumonia AUC", "Pneumonia ACC", "Breast AUC", "Breast ACC", "Derma AUC", "Derma ACC")
MEDMNIST = {
    "ResNet50": (96.20, 88.40, 91.90, 86.60, 91.20, 73.10),
    "DWT-CV": (95.69, 88.67, 89.77, 85.68, 91.67, 74.75),
    "SADAE": (98.30, 91.80, 91.50, 87.80, 92.70, 75.90),
    "PMC-CLIP": (99.02, 95.35, 94.56, 91.35, 93.41, 79.80),
}

VQA_COLUMNS = ("VQA-RAD Open", "VQA-RAD Closed", "VQA-RAD Overall", "SLAKE Open", "SLAKE Closed", "SLAKE Overall")
VQA = {
    "MEVF-BAN": (49.20, 77.20, 66.10, 77.80, 79.80, 78.60),
    "CPRD-BAN": (52.50, 77.90, 67.80, 79.50, 83.40, 81.10),
    "M3AE": (67.23, 83.46, 77.01, 80.31, 87.82, 83.25),
    "PMC-CLIP": (67.00, 84.00, 77.60, 81.90, 88.00, 84.30),
}
