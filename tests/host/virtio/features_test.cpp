// Feature negotiation (libs/virtio/features.h): VIRTIO_F_VERSION_1 required, nothing accepted that was not offered.
#include <gtest/gtest.h>
#include <virtio/features.h>

using namespace kernite::virtio;

TEST(VirtioFeatures, RefusesDevicesWithoutVersion1)
{
    auto result = negotiate_features(0, feature_version_1);
    ASSERT_TRUE(result.is_error());
    EXPECT_EQ(result.error().code(), ENOTSUP);
    EXPECT_NE(std::string(result.error().reason()).find("VIRTIO_F_VERSION_1"), std::string::npos);
    EXPECT_TRUE(negotiate_features(~feature_version_1, ~0ull).is_error());
}

TEST(VirtioFeatures, AcceptsOnlyOfferedAndSupportedBits)
{
    EXPECT_EQ(negotiate_features(feature_version_1, 0).value(), feature_version_1);
    // The device offers everything (EVENT_IDX, INDIRECT_DESC, ...): the driver takes only VERSION_1.
    EXPECT_EQ(negotiate_features(~0ull, 0).value(), feature_version_1);
    EXPECT_EQ(negotiate_features(feature_version_1 | 0x5, 0x4 | 0x8).value(), feature_version_1 | 0x4);
}
