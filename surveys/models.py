"""Survey templates, triggers, invitations and responses (issue: Surveys). Nothing here yet."""
