"""One screen per wizard step (see tui.state.STEPS for the order)."""
