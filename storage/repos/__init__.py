"""Repositories: every query lives here; none of them commits (the caller does)."""

from storage.repos.campaigns import (
    AgentRepo,
    AssignedNumber,
    AuditRepo,
    CampaignRepo,
    CampaignSummary,
    DncRepo,
    NumberRepo,
    ScheduleRepo,
    Who,
)
from storage.repos.contacts import (
    CallEnd,
    CallRepo,
    CallStart,
    Claim,
    ClaimRepo,
    ContactRepo,
    ContactView,
    NewContact,
)
from storage.repos.results import (
    AnalysisRepo,
    CallAggregates,
    ContactCounts,
    DashboardRepo,
    ExportRepo,
    GoalRepo,
    ImportRepo,
)

__all__ = [
    "AgentRepo",
    "AnalysisRepo",
    "AssignedNumber",
    "AuditRepo",
    "CallAggregates",
    "CallEnd",
    "CallRepo",
    "CallStart",
    "CampaignRepo",
    "CampaignSummary",
    "Claim",
    "ClaimRepo",
    "ContactCounts",
    "ContactRepo",
    "ContactView",
    "DashboardRepo",
    "DncRepo",
    "ExportRepo",
    "GoalRepo",
    "ImportRepo",
    "NewContact",
    "NumberRepo",
    "ScheduleRepo",
    "Who",
]
