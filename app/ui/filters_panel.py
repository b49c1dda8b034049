"""Filters under the library panel: years, journal, modality, collection, similarity threshold and sort order."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QFormLayout, QFrame, QHBoxLayout, QLabel, QSlider, QSpinBox, QWidget

from engine.types import CollectionInfo, Facets, SearchFilters, SortOrder

ANY = "Any"
SORT_CHOICES = (
    ("Relevance", SortOrder.RELEVANCE),
    ("Newest first", SortOrder.NEWEST_FIRST),
    ("Oldest first", SortOrder.OLDEST_FIRST),
)
_YEAR_FLOOR, _YEAR_CEILING = 1900, 2100


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
        self.threshold.setRange(0, 60)  # similarity × 100; CLIP cosines rarely pass 0.5
        self.threshold.setToolTip("Hide results whose image–query similarity is below this value")
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
        form.addRow("Min. similarity", threshold)
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
        self.threshold_label.setText("off" if value == 0 else f"{value / 100:.2f}")
        self.changed.emit()

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
        return self.threshold.value() / 100 or None

    def sort_order(self) -> SortOrder:
        return SortOrder(self.sort.currentData())
