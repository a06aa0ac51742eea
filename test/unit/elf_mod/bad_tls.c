/* Fixture: thread-local data, which modules cannot have. */
__thread int tls_var;

int get_tls(void)
{
	return tls_var;
}
