"""Pure data and rules: flows, executions, task runs, states, labels. Imports only the stdlib."""
