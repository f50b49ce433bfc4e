"""Wootric (InMoment): identify calls as end users, the hub's answers as Wootric responses."""
