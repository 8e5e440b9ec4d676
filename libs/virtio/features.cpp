// Feature negotiation; see features.h.
#include <virtio/features.h>

namespace kernite::virtio {

ErrorOr<u64> negotiate_features(u64 offered, u64 supports)
{
    if (!(offered & feature_version_1))
        return Error::from_errno(ENOTSUP, "virtio device does not offer VIRTIO_F_VERSION_1 (legacy only): refused");
    return (offered & supports) | feature_version_1;
}

} // namespace kernite::virtio
