# herald — one non-recursive Makefile.
#   make            build build/herald and build/plugins/*.so
#   make run        install missing Debian packages, build, run on scripts/herald.lua
#   make test       install, build, run every test (last line: "N passed, N failed")
#   make sanitize   the same suite on an ASan+UBSan build (build-san/)
#   make valgrind   the integration tests with herald under valgrind
#   make install    PREFIX=/usr/local DESTDIR=
#   make fuzz       libFuzzer targets (FUZZ_SECONDS=60 each)
#   make bench      bench/parse and bench/match (see bench/README.md)
#   V=1             show full commands

.SECONDEXPANSION:
VERSION := 0.1.0
PREFIX ?= /usr/local
DESTDIR ?=
BUILD ?= build
CC ?= cc

# Debian packages the build and the test suite need. `make deps` installs the missing ones.
# The desktop notifier's test runs a real desktop: Xvfb, a D-Bus session bus (dbus-daemon,
# dbus-send), dunst (dunstctl uses busctl from systemd) and ImageMagick's `import` screenshots.
DEB_PKGS := build-essential pkg-config liblua5.4-dev libuv1-dev libcurl4-openssl-dev \
	libxml2-dev libsqlite3-dev libjansson-dev libutf8proc-dev libstemmer-dev libpcre2-dev \
	libssl-dev libsystemd-dev libxml2-utils python3 python3-aiosmtpd \
	xvfb dbus-daemon dbus-bin dunst systemd imagemagick
PKGS := lua5.4 libuv libcurl libxml-2.0 sqlite3 jansson libutf8proc libpcre2-8 libcrypto libsystemd

ifeq ($(V),1)
Q :=
else
Q := @
endif

PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS = $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lstemmer -ldl -lm

WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wno-unused-parameter
OPT ?= -O2 -g
SAN_FLAGS ?=
CFLAGS_ALL = -std=c11 -D_GNU_SOURCE $(WARN) $(OPT) $(SAN_FLAGS) -MMD -MP \
	-Iinclude -Icore -DHERALD_VERSION='"$(VERSION)"' \
	-DHERALD_PLUGIN_DIR='"$(PREFIX)/lib/herald/plugins"' \
	-DHERALD_DATA_DIR='"$(PREFIX)/share/herald"' $(PKG_CFLAGS) $(CFLAGS)
LDFLAGS_ALL = $(SAN_FLAGS) $(LDFLAGS)

CORE_SRC := $(filter-out core/main.c,$(wildcard core/*.c))
CORE_OBJ := $(CORE_SRC:%.c=$(BUILD)/%.o)
MAIN_OBJ := $(BUILD)/core/main.o
CORE_LIB := $(BUILD)/libherald-core.a

# Each plugins/NAME/ builds build/plugins/NAME.so. A plugin may list the pkg-config
# packages it needs in plugins/NAME/deps; when one is missing the plugin is skipped.
PLUGIN_DIRS := $(patsubst plugins/%/,%,$(sort $(dir $(wildcard plugins/*/*.c))))
plugin_ok = $(shell d=plugins/$(1)/deps; [ ! -f $$d ] || pkg-config --exists $$(cat $$d) && echo yes)
PLUGINS := $(foreach p,$(PLUGIN_DIRS),$(if $(call plugin_ok,$(p)),$(p)))
PLUGIN_SO := $(PLUGINS:%=$(BUILD)/plugins/%.so)

UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

PYTHON ?= $(shell [ -x /usr/bin/python3 ] && echo /usr/bin/python3 || echo python3)

.PHONY: all bin deps run test sanitize valgrind install uninstall clean fuzz format bench

all: bin $(UNIT_BIN)

bin: $(BUILD)/herald $(PLUGIN_SO)

$(BUILD)/herald: $(MAIN_OBJ) $(CORE_LIB)
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $^ $(PKG_LIBS)

$(CORE_LIB): $(CORE_OBJ)
	@echo "  AR      $@"
	$(Q)rm -f $@ && ar rcs $@ $^

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(CFLAGS_ALL) -c -o $@ $<

$(BUILD)/plugins/%.so: $$(wildcard plugins/%/*.c)
	@mkdir -p $(dir $@)
	@echo "  PLUGIN  $@"
	$(Q)$(CC) $(CFLAGS_ALL) -fPIC -shared -fvisibility=hidden -o $@ $(filter %.c,$^) \
		$$( [ -f plugins/$*/deps ] && pkg-config --cflags --libs $$(cat plugins/$*/deps) )

$(BUILD)/tests/%: tests/unit/%.c $(CORE_LIB)
	@mkdir -p $(dir $@)
	@echo "  TEST    $@"
	$(Q)$(CC) $(CFLAGS_ALL) -Itests/unit $(LDFLAGS_ALL) -o $@ $< $(CORE_LIB) $(PKG_LIBS)

# Install what is missing, once. Needs root (or sudo) only when something is missing.
deps:
	@missing=""; for p in $(DEB_PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:$$missing"; \
		if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null || exit 1; \
	fi

# The demo starts from an empty state so that it alerts on the seed article every time.
run: deps
	@$(MAKE) --no-print-directory bin
	@rm -rf $(BUILD)/demo-state
	./$(BUILD)/herald run -c scripts/herald.lua --state $(BUILD)/demo-state

test: deps
	@$(MAKE) --no-print-directory all
	$(PYTHON) tests/run.py --build $(BUILD)

sanitize: deps
	@$(MAKE) --no-print-directory all BUILD=build-san OPT="-O1 -g -fno-omit-frame-pointer" \
		SAN_FLAGS="-fsanitize=address,undefined -fno-sanitize-recover=all"
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
		$(PYTHON) tests/run.py --build build-san --sanitize

# The integration tests with every herald process under valgrind (memcheck): any error or
# definite leak makes herald exit 99, which fails the test that ran it.
VALGRIND := valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
	--show-leak-kinds=definite --track-fds=no
valgrind: deps
	@command -v valgrind >/dev/null || { echo "installing valgrind"; apt-get install -y -qq valgrind >/dev/null; }
	@$(MAKE) --no-print-directory all
	HERALD_WRAPPER="$(VALGRIND)" $(PYTHON) tests/run.py --build $(BUILD) integration/

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/herald/plugins \
		$(DESTDIR)$(PREFIX)/share/herald
	install -m 0755 $(BUILD)/herald $(DESTDIR)$(PREFIX)/bin/herald
	for so in $(PLUGIN_SO); do install -m 0644 $$so $(DESTDIR)$(PREFIX)/lib/herald/plugins/; done
	cp -R scripts/. $(DESTDIR)$(PREFIX)/share/herald/
	install -d $(DESTDIR)$(PREFIX)/include/herald
	install -m 0644 include/herald/*.h $(DESTDIR)$(PREFIX)/include/herald/
	install -d $(DESTDIR)$(PREFIX)/lib/systemd/user
	sed 's|@BINDIR@|$(PREFIX)/bin|' scripts/herald.service > $(DESTDIR)$(PREFIX)/lib/systemd/user/herald.service
	install -d $(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/share/man/man5
	install -m 0644 docs/man/herald.1 $(DESTDIR)$(PREFIX)/share/man/man1/herald.1
	install -m 0644 docs/man/herald.lua.5 $(DESTDIR)$(PREFIX)/share/man/man5/herald.lua.5

uninstall:
	rm -rf $(DESTDIR)$(PREFIX)/bin/herald $(DESTDIR)$(PREFIX)/lib/herald \
		$(DESTDIR)$(PREFIX)/lib/systemd/user/herald.service \
		$(DESTDIR)$(PREFIX)/share/herald $(DESTDIR)$(PREFIX)/include/herald \
		$(DESTDIR)$(PREFIX)/share/man/man1/herald.1 $(DESTDIR)$(PREFIX)/share/man/man5/herald.lua.5

# The benchmarks (each also runs alone: bench/parse, bench/match, bench/fetch, bench/soak).
# bench/fetch (nginx, newsboat; ~6 min) and bench/soak (4 min) are left out of this target.
bench: deps
	@$(MAKE) --no-print-directory bin
	bench/parse
	bench/match

format:
	clang-format -i core/*.c core/*.h include/herald/*.h plugins/*/*.c tests/unit/*.c tests/unit/*.h

# ---- fuzzing: clang + libFuzzer (runtime in libclang-rt-14-dev) -------------------------
# build-fuzz/fuzz_{feed,jsonfeed,html} link only the parser (feed*.c html.c date.c arena.c)
# built with ASan+UBSan; tests/fuzz/run.sh seeds each corpus and runs it FUZZ_SECONDS.
FUZZ_PKGS := clang libclang-rt-14-dev libxml2-dev libjansson-dev libssl-dev pkg-config
FUZZ_CC ?= clang
FUZZ_SECONDS ?= 60
FUZZ_MAX_LEN ?= 1048576
FUZZ_TARGETS := feed jsonfeed html
FUZZ_CORE := feed feed_xml feed_json html date arena
FUZZ_OBJ := $(FUZZ_CORE:%=build-fuzz/core/%.o)
FUZZ_BIN := $(FUZZ_TARGETS:%=build-fuzz/fuzz_%)
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_CFLAGS = -std=c11 -D_GNU_SOURCE $(WARN) -O1 -g $(FUZZ_SAN) -MMD -MP -Iinclude -Icore \
	$(shell pkg-config --cflags libxml-2.0 jansson libcrypto 2>/dev/null)
FUZZ_LIBS = $(shell pkg-config --libs libxml-2.0 jansson libcrypto 2>/dev/null) -lm

.PHONY: fuzz-deps fuzz-build
.SECONDARY: $(FUZZ_OBJ)
fuzz-deps:
	@missing=""; for p in $(FUZZ_PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:$$missing"; \
		if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null || exit 1; \
	fi

build-fuzz/core/%.o: core/%.c
	@mkdir -p $(dir $@)
	@echo "  FUZZCC  $<"
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

build-fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_OBJ)
	@echo "  FUZZLD  $@"
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $(filter %.c %.o,$^) $(FUZZ_LIBS)

fuzz-build: fuzz-deps
	@$(MAKE) --no-print-directory -s $(FUZZ_BIN)

# Every target runs even when an earlier one crashed; the exit status says if any did.
fuzz: fuzz-build
	@rc=0; for t in $(FUZZ_TARGETS); do \
		sh tests/fuzz/run.sh $$t $(FUZZ_SECONDS) $(FUZZ_MAX_LEN) || rc=1; \
	done; exit $$rc

-include $(shell find build-fuzz -name '*.d' 2>/dev/null)

clean:
	rm -rf build build-san build-fuzz

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
