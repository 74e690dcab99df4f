"""The ground floor every room of the launcher stands on: its error types (`errors`), the credential guard
that decides what may be recorded or shipped (`guard`), and how a step of a failure path is kept from failing
in turn (`failsafe`); and the user's cache of what can be made again (`cache`). Nothing here imports another
room."""
