"""What the window says about a library's model: its name, whether it ships with the app, what it knows, and
example queries it understands (the search field's placeholder).

Plain Python and no torch: the window describes a model before any model code is loaded.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from engine.types import ModelSpec

LOCAL_DIR = "local-dir:"
PMC_CLIP = "pmc-clip"
PMC_CLIP_DOWNLOAD = "≈590 MB"  # the three extracted encoders (engine.hub.PMC_CLIP_EXTRACTED) and the tokenizer

# The bundled demo figures' kinds (resources/demo-figures/<kind>-NN.jpg), in words.
DEMO_KINDS = {
    "bar_chart": "bar charts",
    "bone_radiograph": "bone radiographs",
    "chest_radiograph": "chest radiographs",
    "ecg_trace": "ECG traces",
    "flow_diagram": "flow diagrams",
    "fluorescence_micrograph": "fluorescence micrographs",
    "gel_electrophoresis": "gels and western blots",
    "he_micrograph": "H&E micrographs",
    "line_plot": "line plots",
    "pie_chart": "pie charts",
    "scatter_plot": "scatter plots",
}
DEMO_EXAMPLES = ("chest radiograph with a nodule", "fluorescence micrograph with green cells", "western blot")
PMC_CLIP_EXAMPLES = ("CT of a pneumothorax with chest tube", "H&E stain of a lymph node", "Kaplan-Meier curve")
GENERIC_EXAMPLES = ("MRI of a meningioma", "chest radiograph", "bar chart")


@dataclass(frozen=True)
class ModelDescription:
    title: str  # "Demo model", "PMC-CLIP", "PMC-CLIP (your checkpoint model.pt)"
    knows: str  # what it learned, in a sentence
    examples: tuple[str, ...]  # queries it understands
    is_demo: bool = False
    bundled: bool = False  # ships with the app: nothing is ever downloaded for it
    download: str | None = None  # "≈590 MB" when its weights are downloaded on first use

    def placeholder(self) -> str:
        return f"Search figures — e.g. “{self.examples[0]}” — or drop an image"


def demo_model_folder() -> Path:
    from engine import paths

    return paths.resource_path("demo-model")


def is_demo_model(spec: ModelSpec) -> bool:
    if not spec.name.startswith(LOCAL_DIR):
        return False
    try:
        return Path(spec.name[len(LOCAL_DIR):]).resolve() == demo_model_folder().resolve()
    except OSError:
        return False


def demo_kinds() -> list[str]:
    """The kinds of figures the demo model was trained on, from the bundled figures' names."""
    from app.demo import bundled_demo_figures

    names = {p.name.rsplit("-", 1)[0] for p in bundled_demo_figures()}
    return [DEMO_KINDS.get(n, n.replace("_", " ")) for n in sorted(names)] or list(DEMO_KINDS.values())


def describe_model(spec: ModelSpec) -> ModelDescription:
    if is_demo_model(spec):
        return ModelDescription(
            title="Demo model",
            knows="a 2-million-parameter model trained only on the demo figures' kinds: "
            + ", ".join(demo_kinds()) + ". It does not know real clinical images or the literature.",
            examples=DEMO_EXAMPLES, is_demo=True, bundled=True,
        )
    if spec.name.startswith(LOCAL_DIR):
        folder = Path(spec.name[len(LOCAL_DIR):])
        return ModelDescription(
            title=f"Exported model “{folder.name}”", knows="a model exported by pmc-trainer from this computer.",
            examples=GENERIC_EXAMPLES, bundled=True,
        )
    if spec.name == PMC_CLIP or spec.name.startswith(PMC_CLIP):
        mine = f" (your checkpoint {Path(spec.weights).name})" if spec.weights else ""
        return ModelDescription(
            title=f"PMC-CLIP{mine}",
            knows="PMC-CLIP, trained on 1.6 million figure–caption pairs from PubMed Central: radiology, "
            "histology, microscopy, charts and more.",
            examples=PMC_CLIP_EXAMPLES, bundled=bool(spec.weights),
            download=None if spec.weights else PMC_CLIP_DOWNLOAD,
        )
    return ModelDescription(
        title=spec.name, knows="a biomedical image–text model.", examples=GENERIC_EXAMPLES,
        bundled=bool(spec.weights), download=None if spec.weights else "downloaded on first use",
    )
