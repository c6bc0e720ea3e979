"""dissent: a confidential channel for reporting what official reporting leaves out."""
