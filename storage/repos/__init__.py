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
from storage.repos.judging import AnalysisRecord, GoalRecord, JudgingRepo, StoredConversation
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
    "AnalysisRecord",
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
    "GoalRecord",
    "GoalRepo",
    "ImportRepo",
    "JudgingRepo",
    "NewContact",
    "NumberRepo",
    "ScheduleRepo",
    "StoredConversation",
    "Who",
]
