# OpenWrt's include/package.mk reduced to packing a package whose build is done
# (tests/openwrt/package puts it at include/package.mk of a tree that is otherwise
# OpenWrt 25.12.5's own). What makes the .ipk or .apk is the tree's package-defaults.mk
# and package-pack.mk, unchanged: BuildTarget/ipkg runs the package's install recipe,
# writes its maintainer scripts and control data, checks its libraries against what
# its dependencies provide, and calls scripts/ipkg-build or `apk mkpkg`. Left out:
# download, unpack, patch, configure, compile (PKG_INSTALL_DIR holds the build) and the
# staging install.

STAMP_BUILT := $(PKG_BUILD_DIR)/.built
PKG_INSTALL_STAMP := $(PKG_INFO_DIR)/$(PKG_DIR_NAME).$(if $(BUILD_VARIANT),$(BUILD_VARIANT),default).install
PKG_SOURCE_DATE_EPOCH ?= 0

include $(INCLUDE_DIR)/package-defaults.mk
include $(INCLUDE_DIR)/package-pack.mk

# As package.mk's BuildPackage, for the packing target only; `pack` names the result.
define BuildPackage
  $(eval $(Package/Default))
  $(eval $(Package/$(1)))
  $(eval PROVIDES:=$(strip @$(1)-any $(PROVIDES)))
  $(foreach FIELD,TITLE CATEGORY SECTION VERSION,
    $(if $($(FIELD)),,$(error Package/$(1) is missing the $(FIELD) field)))
  $(BuildTarget/ipkg)
  pack: $$(PACK_$(1))
	@echo $$(PACK_$(1))
endef

# The sections package.mk defines and package Makefiles may extend or call.
Build/Prepare:=
Build/Configure:=
Build/Compile:=
Build/Install:=
