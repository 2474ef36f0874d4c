// Test shim (LD_PRELOAD): operator new and new[] fail (std::bad_alloc) for any request over
// FAILNEW_OVER bytes. qmail's C code allocates with malloc, so only libdkim's C++ allocations
// are hit: the way to make libdkim run out of memory while qmail-smtpd itself does not.
#include <cstdlib>
#include <new>

static std::size_t limit()
{
	static std::size_t over = 0;
	if (!over) {
		const char *s = std::getenv("FAILNEW_OVER");
		over = s ? std::strtoul(s, nullptr, 10) : static_cast<std::size_t>(-1);
	}
	return over;
}

static void *get(std::size_t n)
{
	if (n > limit()) throw std::bad_alloc();
	void *p = std::malloc(n ? n : 1);
	if (!p) throw std::bad_alloc();
	return p;
}

void *operator new(std::size_t n) { return get(n); }
void *operator new[](std::size_t n) { return get(n); }
void operator delete(void *p) noexcept { std::free(p); }
void operator delete[](void *p) noexcept { std::free(p); }
void operator delete(void *p, std::size_t) noexcept { std::free(p); }
void operator delete[](void *p, std::size_t) noexcept { std::free(p); }
