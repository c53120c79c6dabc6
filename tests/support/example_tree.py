"""The channel tree of the example app (the README's "Channel trees" one), which several areas'
tests build on."""

from __future__ import annotations

import sock8
from pydantic import BaseModel


class Notification(BaseModel):
    """A message of `notification.{userId}`."""

    title: str
    body: str


class ChatMessage(BaseModel):
    """A message of `chat.{roomId}.messages`."""

    text: str


class Typing(BaseModel):
    """Presence data of `chat.{roomId}.messages`."""

    typing: bool


def example_channels(s8: sock8.Sock8) -> sock8.ChannelTree:
    """Per-user notifications, chat rooms with presence and history, and the admin logs."""
    return s8.channels(
        {
            "notification.{userId}": Notification,
            "chat.{roomId}.messages": sock8.channel(ChatMessage, presence=Typing, history=True),
            "admin.logs": str,
        }
    )
