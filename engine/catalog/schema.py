"""The catalog's tables as a typed SQLAlchemy 2.0 ORM.

Tables are plural, classes singular. Vectors are keyed by the SHA-256 of the image file's bytes, so a renamed
or duplicated file reuses the vector already computed, and the ANN index can be rebuilt without re-encoding.
The FTS5 table over captions and article titles is not mapped: it is created and kept in sync by triggers
(see `fts.py`), which also run inside migrations, so every code path that writes figures keeps it current.
"""

from __future__ import annotations

from sqlalchemy import (
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class SchemaVersion(Base):
    """One row: the schema version this file has been migrated to."""

    __tablename__ = "schema_version"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(Integer)


class LibraryMeta(Base):
    """Key/value facts about the library: model spec, model id, dimension, generation counter."""

    __tablename__ = "library_meta"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class Collection(Base):
    __tablename__ = "collections"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(Text)
    # Mark-and-sweep: every figure seen in the current ingest run gets this mark; the rest are swept at the end.
    scan_mark: Mapped[int] = mapped_column(Integer, default=0)
    last_ingested: Mapped[float | None] = mapped_column(Float, nullable=True)
    # "complete" when the last run finished; "incomplete" while one runs or after it was cancelled or failed.
    status: Mapped[str] = mapped_column(String(16), default="complete", server_default="complete")

    sources: Mapped[list[CollectionSource]] = relationship(
        order_by="CollectionSource.position", cascade="all, delete-orphan", passive_deletes=True
    )


class CollectionSource(Base):
    """One folder or file a collection is made of; a collection imported in one action may have many."""

    __tablename__ = "collection_sources"
    __table_args__ = (UniqueConstraint("collection_id", "position"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    collection_id: Mapped[int] = mapped_column(ForeignKey("collections.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)  # 0 for the first; figure keys of later ones carry it
    kind: Mapped[str] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(Text)


class Article(Base):
    __tablename__ = "articles"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pmcid: Mapped[str | None] = mapped_column(String(32), unique=True, nullable=True)
    pmid: Mapped[str | None] = mapped_column(String(32), nullable=True)
    doi: Mapped[str | None] = mapped_column(String(255), nullable=True)
    title: Mapped[str | None] = mapped_column(Text, nullable=True)
    journal: Mapped[str | None] = mapped_column(String(512), nullable=True, index=True)
    year: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    license: Mapped[str | None] = mapped_column(String(255), nullable=True)
    license_url: Mapped[str | None] = mapped_column(Text, nullable=True)
    authors: Mapped[str | None] = mapped_column(Text, nullable=True)  # JSON list of "Family, Given"
    volume: Mapped[str | None] = mapped_column(String(64), nullable=True)
    issue: Mapped[str | None] = mapped_column(String(64), nullable=True)
    pages: Mapped[str | None] = mapped_column(String(64), nullable=True)  # "123-130", or an e-location "e1234"


class Vector(Base):
    __tablename__ = "vectors"
    content_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)  # float32, little-endian, L2-normalised


class QuarantinedVector(Base):
    """A stored vector found unusable (wrong length, NaN or infinity): its figures stay out of the index until the
    image is encoded again (`Library.reencode_quarantined`). No foreign key: the row is evidence, not a link."""

    __tablename__ = "quarantined_vectors"
    content_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    reason: Mapped[str] = mapped_column(Text)
    found_at: Mapped[float] = mapped_column(Float)


class Figure(Base):
    __tablename__ = "figures"
    __table_args__ = (UniqueConstraint("collection_id", "key"), Index("ix_figures_scan", "collection_id", "scan_mark"))
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    collection_id: Mapped[int] = mapped_column(ForeignKey("collections.id", ondelete="CASCADE"))
    article_id: Mapped[int | None] = mapped_column(
        ForeignKey("articles.id", ondelete="SET NULL"), nullable=True, index=True
    )
    key: Mapped[str] = mapped_column(Text)
    image_path: Mapped[str] = mapped_column(Text)
    file_size: Mapped[int] = mapped_column(Integer)
    mtime_ns: Mapped[int] = mapped_column(Integer)
    content_sha256: Mapped[str] = mapped_column(ForeignKey("vectors.content_sha256"), index=True)
    caption: Mapped[str | None] = mapped_column(Text, nullable=True)
    label: Mapped[str | None] = mapped_column(String(255), nullable=True)
    figure_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    modality: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    modality_confidence: Mapped[float | None] = mapped_column(Float, nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="ok")
    scan_mark: Mapped[int] = mapped_column(Integer, default=0)
    # The catalog generation at which this figure's vector last changed: a stale index catches up with these.
    vector_generation: Mapped[int] = mapped_column(Integer, default=0, server_default="0", index=True)

    collection: Mapped[Collection] = relationship(lazy="joined")
    article: Mapped[Article | None] = relationship(lazy="joined")


class IngestProblem(Base):
    __tablename__ = "ingest_problems"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    collection_id: Mapped[int] = mapped_column(ForeignKey("collections.id", ondelete="CASCADE"), index=True)
    path: Mapped[str] = mapped_column(Text)
    message: Mapped[str] = mapped_column(Text)
