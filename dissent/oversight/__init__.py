"""The oversight interface: escalations that went up the ladder above leadership."""
