/*
 * The unit-test runner: registers every suite named in suites.inc and runs them with
 * CUnit's basic interface, so the closing summary is CUnit's own. A suite name given on
 * the command line runs only that suite.
 */
#include <CUnit/Basic.h>
#include <stdio.h>
#include <string.h>

#define SUITE(name) extern CU_SuiteInfo name##_suites[];
#include "suites.inc"
#undef SUITE

int main(int argc, char **argv)
{
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
#define SUITE(name)                                                                                \
	if (CU_register_suites(name##_suites) != CUE_SUCCESS) {                                    \
		fprintf(stderr, "cannot register suite %s: %s\n", #name, CU_get_error_msg());      \
		return 2;                                                                          \
	}
#include "suites.inc"
#undef SUITE
	CU_basic_set_mode(CU_BRM_VERBOSE);
	if (argc > 1) {
		CU_pSuite suite = CU_get_suite(argv[1]);
		if (suite == NULL) {
			fprintf(stderr, "no suite named %s\n", argv[1]);
			return 2;
		}
		CU_basic_run_suite(suite);
	} else {
		CU_basic_run_tests();
	}
	unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
	unsigned ran = CU_get_number_of_tests_run();
	CU_cleanup_registry();
	return (failed == 0 && ran > 0) ? 0 : 1;
}
