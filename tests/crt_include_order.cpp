/* crt_include_order.cpp - crt_include_order.c compiled as C++, where wchar_t is a type of its own. */
#include "crt_include_order.c"
