"""Filters under the library panel: years, journal, modality, collection, minimum score and sort order.

The minimum works on the scale the results are shown on: match strength (0.0–8.0) for text queries, closeness
(0–100) for image queries. The slider keeps one value per scale and switches when the query gains or loses an image.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QFormLayout, QFrame, QHBoxLayout, QLabel, QSlider, QSpinBox, QWidget

from engine.types import CollectionInfo, Facets, ScoreScale, SearchFilters, SortOrder

ANY = "Any"
SORT_CHOICES = (
    ("Relevance", SortOrder.RELEVANCE),
    ("Newest first", SortOrder.NEWEST_FIRST),
    ("Oldest first", SortOrder.OLDEST_FIRST),
)
_YEAR_FLOOR, _YEAR_CEILING = 1900, 2100
# Per scale: slider steps, steps per score unit, how a value is written, what the tooltip says.
_THRESHOLD = {
    ScoreScale.STRENGTH: (80, 10, "{:.1f}", "Hide results whose match strength is below this (3 = strong, 2.5 = weak)"),
    ScoreScale.CLOSENESS: (100, 1, "{:.0f}", "Hide results whose closeness to the query image is below this (0–100)"),
}


class FiltersWidget(QFrame):
    changed = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("filtersPanel")
        self.year_min = self._year_box("from")
        self.year_max = self._year_box("to")
        years = QHBoxLayout()
        years.addWidget(self.year_min)
        years.addWidget(QLabel("–"))
        years.addWidget(self.year_max)
        self.journal = self._combo()
        self.modality = self._combo()
        self.collection = self._combo()
        self.threshold = QSlider(Qt.Orientation.Horizontal)
        self.scale = ScoreScale.STRENGTH
        self._threshold_values = {scale: 0 for scale in _THRESHOLD}
        self.threshold.setRange(0, _THRESHOLD[self.scale][0])
        self.threshold.setToolTip(_THRESHOLD[self.scale][3])
        self.threshold_label = QLabel()
        self.threshold.valueChanged.connect(self._on_threshold)
        threshold = QHBoxLayout()
        threshold.addWidget(self.threshold, 1)
        threshold.addWidget(self.threshold_label)
        self.sort = QComboBox()
        for text, value in SORT_CHOICES:
            self.sort.addItem(text, value)
        self.sort.currentIndexChanged.connect(self.changed)
        form = QFormLayout(self)
        form.setContentsMargins(8, 4, 8, 8)
        form.addRow(QLabel("<b>Filters</b>"))
        form.addRow("Years", years)
        form.addRow("Journal", self.journal)
        form.addRow("Modality", self.modality)
        form.addRow("Collection", self.collection)
        form.addRow("Min. score", threshold)
        form.addRow("Sort by", self.sort)
        self._on_threshold(0)

    def _year_box(self, what: str) -> QSpinBox:
        box = QSpinBox()
        box.setRange(_YEAR_FLOOR - 1, _YEAR_CEILING)
        box.setSpecialValueText("any")  # the minimum means "no limit"
        box.setValue(_YEAR_FLOOR - 1)
        box.setToolTip(f"Published {what} this year")
        box.setKeyboardTracking(False)
        box.valueChanged.connect(self.changed)
        return box

    def _combo(self) -> QComboBox:
        combo = QComboBox()
        combo.addItem(ANY, None)
        combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        combo.setMinimumContentsLength(12)
        combo.currentIndexChanged.connect(self.changed)
        return combo

    def _on_threshold(self, value: int) -> None:
        self._threshold_values[self.scale] = value
        self._label_threshold()
        self.changed.emit()

    def _label_threshold(self) -> None:
        value = self.threshold.value()
        _, per_unit, text, _ = _THRESHOLD[self.scale]
        self.threshold_label.setText("off" if value == 0 else text.format(value / per_unit))

    def set_scale(self, scale: ScoreScale) -> None:
        """Show the minimum on this scale (text queries: strength; image queries: closeness). Emits nothing."""
        if scale is self.scale:
            return
        self.scale = scale
        steps, _, _, tooltip = _THRESHOLD[scale]
        self.threshold.blockSignals(True)
        self.threshold.setRange(0, steps)
        self.threshold.setValue(self._threshold_values[scale])
        self.threshold.blockSignals(False)
        self.threshold.setToolTip(tooltip)
        self._label_threshold()

    @staticmethod
    def _refill(combo: QComboBox, items: list[tuple[str, object]]) -> None:
        current = combo.currentData()
        combo.blockSignals(True)
        combo.clear()
        combo.addItem(ANY, None)
        for text, value in items:
            combo.addItem(text, value)
        index = combo.findData(current) if current is not None else 0
        combo.setCurrentIndex(max(0, index))
        combo.blockSignals(False)

    def set_facets(self, facets: Facets) -> None:
        self._refill(self.journal, [(j, j) for j in facets.journals if j])
        self._refill(self.modality, [(m, m) for m in facets.modalities if m])
        years = facets.years
        if years:
            for box in (self.year_min, self.year_max):
                box.setToolTip(f"The library's articles span {years[0]}–{years[1]}")
                # Stepping up from "any" starts at the library's own years, not at 1900.
                box.blockSignals(True)
                at_any = box.value() == box.minimum()
                box.setRange(years[0] - 1, max(years[1], years[0]))
                if at_any:
                    box.setValue(box.minimum())
                box.blockSignals(False)

    def set_collections(self, collections: list[CollectionInfo]) -> None:
        self._refill(self.collection, [(c.name, c.id) for c in collections])

    def _year(self, box: QSpinBox) -> int | None:
        return None if box.value() == box.minimum() else box.value()

    def filters(self) -> SearchFilters:
        def one(combo: QComboBox) -> tuple:
            value = combo.currentData()
            return () if value is None else (value,)

        return SearchFilters(
            collection_ids=one(self.collection),
            year_min=self._year(self.year_min),
            year_max=self._year(self.year_max),
            journals=one(self.journal),
            modalities=one(self.modality),
        )

    def min_score(self) -> float | None:
        """The minimum on the current scale; None when off (the engine's default: strong and weak matches)."""
        return self.threshold.value() / _THRESHOLD[self.scale][1] or None

    def sort_order(self) -> SortOrder:
        return SortOrder(self.sort.currentData())
