/* Fixture: a constructor (.init_array), which the loader would never run. */
int ctor_ran;

__attribute__((constructor)) static void ctor(void)
{
	ctor_ran = 1;
}
