"""Region-file blocks for alliances and technology-transfer demonstration institutions (base-year counts)."""

from __future__ import annotations

from pydantic import Field

from simulator.inputs.schema import Strict


class AllianceGroup(Strict):
    """The region's industrial technology innovation alliances (产业技术创新战略联盟) in the base year, by level.

    The model draws their leads among the units able to lead one (:mod:`simulator.model.alliances`);
    ``source`` cites the count, ``levels_source`` says where the split by level comes from.
    """

    municipal: int = Field(ge=0, le=10_000)
    provincial: int = Field(default=0, ge=0, le=10_000)
    national: int = Field(default=0, ge=0, le=10_000)
    source: str
    levels_source: str

    @property
    def count(self) -> int:
        """Alliances of every level."""
        return self.municipal + self.provincial + self.national


class TransferGroup(Strict):
    """The region's technology-transfer demonstration institutions (技术转移示范机构) in the base year.

    At least one: the base year's contract turnover per institution is what the model keeps
    (:func:`simulator.model.alliances.recognise_transfer_institutions`).
    """

    count: int = Field(ge=1, le=10_000)
    source: str
