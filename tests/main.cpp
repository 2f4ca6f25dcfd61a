// The test executable's entry point. Every TEST_CASE lives in a TEST_SUITE whose name is
// its CTest label: unit, gradcheck, reference, cuda, docs, slow.
//
// Test names carry no ',' or ';': CTest's doctest discovery splits names on ';' and looks
// up a name with a ',' as two filters, losing its label (a slow test would then run in the
// default set). CMakeLists.txt refuses such names at configure time.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>
