"""Scenarios: a YAML game day loaded into typed, validated models."""

from gameday.scenario.duration import Duration, parse_duration
from gameday.scenario.expectations import Bound, EqualsBound, Expectation, MaxBound, MinBound, RangeBound
from gameday.scenario.faults import (
    BandwidthFault,
    ExchangeFault,
    ExchangeFaultKind,
    Fault,
    FaultKind,
    KillFault,
    KillSignal,
    LatencyFault,
    PartitionFault,
    PartitionMode,
    PauseFault,
    Stream,
)
from gameday.scenario.loader import load_scenario, parse_scenario
from gameday.scenario.model import ProbeSpec, Scenario, StackSpec, WorkloadSpec
from gameday.scenario.presets import PRESETS, Hop, StackPreset, StackTopology, topology

__all__ = [
    "PRESETS",
    "BandwidthFault",
    "Bound",
    "Duration",
    "EqualsBound",
    "ExchangeFault",
    "ExchangeFaultKind",
    "Expectation",
    "Fault",
    "FaultKind",
    "Hop",
    "KillFault",
    "KillSignal",
    "LatencyFault",
    "MaxBound",
    "MinBound",
    "PartitionFault",
    "PartitionMode",
    "PauseFault",
    "ProbeSpec",
    "RangeBound",
    "Scenario",
    "StackPreset",
    "StackSpec",
    "StackTopology",
    "Stream",
    "WorkloadSpec",
    "load_scenario",
    "parse_duration",
    "parse_scenario",
    "topology",
]
