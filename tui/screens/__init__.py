"""Modal screens over the chat: help, sessions, target picker."""
