"""What the console calls things: the help-centre articles' labels (text only, no rules)."""

from __future__ import annotations

from domain.statuses import Action, StepType

ACTION_LABELS = {
    Action.PAUSE: "Pause Recipient",
    Action.RESUME: "Resume Recipient",
    Action.SKIP: "Skip Step",
    Action.EDIT_CONTENT: "Edit Content",
    Action.VIEW_CONTENT: "View Content",
    Action.STOP: "Stop Sequence",
    Action.DELETE: "Delete Recipient",
    Action.RETRY: "Retry",
    Action.EXCLUDE: "Exclude",
    Action.COMPLETE_TASK: "Complete Task",
    Action.SEND_MANUAL_EMAIL: "Send Manual Email",
}
BLOCKED_WHY = "the sequence is paused"
STEP_TYPE_LABELS = {
    StepType.EMAIL: "Email",
    StepType.MANUAL_EMAIL: "Manual email",
    StepType.TASK: "Task",
    StepType.SMS: "SMS",
    StepType.LINKEDIN: "LinkedIn",
}


def step_label(kind: StepType) -> str:
    return STEP_TYPE_LABELS[kind].lower()
