/* Fixture: a tentative definition, COMMON when built with -fcommon. */
int common_var;

int get_common(void)
{
	return common_var;
}
