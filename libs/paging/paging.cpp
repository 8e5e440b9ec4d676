// The builder is a template (see address_space.h); this file pins the header's self-containedness.
#include <paging/address_space.h>
