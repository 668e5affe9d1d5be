"""Partners (resellers and MSPs), their accounts' sign-in settings and mail domains, and their agreements."""
