"""The company's declaration: purposes, tracking plan, notice version."""
