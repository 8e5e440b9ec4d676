// Threads as a static program uses them (issue 3 items 2 and 6): clone with CLONE_SETTLS/CHILD_CLEARTID (create
// and join), futexes (mutex, condition variable, barrier, semaphore, once), thread-local storage (__thread with
// initial values and alignment, thread-specific data with destructors) and many threads alive at once.
// Every result printed is a count or a sum fixed by the program, never an interleaving.
#include "check.h"

#include <pthread.h>
#include <semaphore.h>
#include <stdint.h>
#include <unistd.h>

// --- create and join: each thread returns a value derived from its argument. ----------------------------------
static void* square(void* argument)
{
    uintptr_t const n = (uintptr_t)argument;
    return (void*)(n * n);
}

static void test_create_join(void)
{
    enum {
        thread_count = 16
    };
    pthread_t threads[thread_count];
    uintptr_t sum = 0;
    for (uintptr_t i = 0; i < thread_count; ++i)
        CHECK(pthread_create(&threads[i], NULL, square, (void*)(i + 1)) == 0, "pthread_create %lu", (unsigned long)i);
    for (int i = 0; i < thread_count; ++i) {
        void* result = NULL;
        CHECK(pthread_join(threads[i], &result) == 0, "pthread_join %d", i);
        sum += (uintptr_t)result;
    }
    // 1^2 + ... + 16^2
    CHECK(sum == 1496, "sum of squares %lu", (unsigned long)sum);
    printf("create/join: %d threads, sum of returned squares %lu\n", thread_count, (unsigned long)sum);
}

// --- mutex: increments under contention are never lost. -----------------------------------------------------
static pthread_mutex_t counter_lock = PTHREAD_MUTEX_INITIALIZER;
static long counter;
enum {
    increments_per_thread = 20000
};

static void* increment(void* unused)
{
    (void)unused;
    for (int i = 0; i < increments_per_thread; ++i) {
        pthread_mutex_lock(&counter_lock);
        ++counter;
        // Give another thread a chance to find the lock taken now and then.
        if (i % 1000 == 0)
            sched_yield();
        pthread_mutex_unlock(&counter_lock);
    }
    return NULL;
}

static void test_mutex(void)
{
    enum {
        thread_count = 8
    };
    pthread_t threads[thread_count];
    for (int i = 0; i < thread_count; ++i)
        CHECK(pthread_create(&threads[i], NULL, increment, NULL) == 0, "pthread_create");
    for (int i = 0; i < thread_count; ++i)
        CHECK(pthread_join(threads[i], NULL) == 0, "pthread_join");
    CHECK(counter == (long)thread_count * increments_per_thread, "counter %ld", counter);
    CHECK(pthread_mutex_trylock(&counter_lock) == 0, "trylock of a free mutex");
    CHECK(pthread_mutex_trylock(&counter_lock) == EBUSY, "trylock of a held mutex is EBUSY");
    pthread_mutex_unlock(&counter_lock);
    printf("mutex: %d threads x %d increments = %ld\n", thread_count, increments_per_thread, counter);
}

// --- condition variable: a bounded queue with two producers and two consumers. 1000 items fill and drain the
// queue of 8 many times over; more only adds time (each futex call is a trip through emulated ring 0 on PVM).
enum {
    queue_capacity = 8,
    items_per_producer = 500,
    producer_count = 2,
    consumer_count = 2
};
static struct {
    pthread_mutex_t lock;
    pthread_cond_t not_empty;
    pthread_cond_t not_full;
    int items[queue_capacity];
    int head, size, producers_done;
} queue = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, PTHREAD_COND_INITIALIZER, { 0 }, 0, 0, 0 };

static void* produce(void* argument)
{
    int const base = (int)(uintptr_t)argument * items_per_producer;
    for (int i = 1; i <= items_per_producer; ++i) {
        pthread_mutex_lock(&queue.lock);
        while (queue.size == queue_capacity)
            pthread_cond_wait(&queue.not_full, &queue.lock);
        queue.items[(queue.head + queue.size) % queue_capacity] = base + i;
        ++queue.size;
        pthread_cond_signal(&queue.not_empty);
        pthread_mutex_unlock(&queue.lock);
    }
    pthread_mutex_lock(&queue.lock);
    ++queue.producers_done;
    pthread_cond_broadcast(&queue.not_empty);
    pthread_mutex_unlock(&queue.lock);
    return NULL;
}

struct ConsumerResult {
    long sum;
    long count;
};

static void* consume(void* argument)
{
    struct ConsumerResult* result = argument;
    for (;;) {
        pthread_mutex_lock(&queue.lock);
        while (queue.size == 0 && queue.producers_done < producer_count)
            pthread_cond_wait(&queue.not_empty, &queue.lock);
        if (queue.size == 0) {
            pthread_mutex_unlock(&queue.lock);
            return NULL;
        }
        int const item = queue.items[queue.head];
        queue.head = (queue.head + 1) % queue_capacity;
        --queue.size;
        pthread_cond_signal(&queue.not_full);
        pthread_mutex_unlock(&queue.lock);
        result->sum += item;
        ++result->count;
    }
}

static void test_condvar(void)
{
    pthread_t producers[producer_count];
    pthread_t consumers[consumer_count];
    struct ConsumerResult results[consumer_count] = { { 0, 0 } };
    for (int i = 0; i < consumer_count; ++i)
        CHECK(pthread_create(&consumers[i], NULL, consume, &results[i]) == 0, "pthread_create consumer");
    for (int i = 0; i < producer_count; ++i)
        CHECK(pthread_create(&producers[i], NULL, produce, (void*)(uintptr_t)i) == 0, "pthread_create producer");
    for (int i = 0; i < producer_count; ++i)
        pthread_join(producers[i], NULL);
    long sum = 0, count = 0;
    for (int i = 0; i < consumer_count; ++i) {
        pthread_join(consumers[i], NULL);
        sum += results[i].sum;
        count += results[i].count;
    }
    long const total = (long)producer_count * items_per_producer;
    CHECK(count == total, "items consumed %ld", count);
    CHECK(sum == total * (total + 1) / 2, "sum of items %ld", sum);
    printf("condvar: %ld items through a queue of %d, sum %ld\n", count, queue_capacity, sum);

    // A timed wait with nothing to wake it times out.
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_nsec += 20 * 1000 * 1000;
    if (deadline.tv_nsec >= 1000000000) {
        deadline.tv_nsec -= 1000000000;
        ++deadline.tv_sec;
    }
    pthread_mutex_lock(&queue.lock);
    int const timed = pthread_cond_timedwait(&queue.not_empty, &queue.lock, &deadline);
    pthread_mutex_unlock(&queue.lock);
    CHECK(timed == ETIMEDOUT, "pthread_cond_timedwait returned %d", timed);
    printf("condvar: timed wait without a signal: %s\n", errno_name(timed));
}

// --- thread-local storage. --------------------------------------------------------------------------------------
static __thread int tls_value = 1234;
static __thread _Alignas(64) char tls_aligned[64] = "initial";
static __thread long tls_big[512]; // 4 KiB of TLS .tbss: zero in every thread

static void* use_tls(void* argument)
{
    int const id = (int)(uintptr_t)argument;
    int ok = tls_value == 1234 && strcmp(tls_aligned, "initial") == 0 && ((uintptr_t)tls_aligned & 63) == 0;
    for (int i = 0; i < 512; ++i)
        ok = ok && tls_big[i] == 0;
    tls_value = id;
    snprintf(tls_aligned, sizeof(tls_aligned), "thread %d", id);
    for (int i = 0; i < 512; ++i)
        tls_big[i] = id;
    sched_yield();
    ok = ok && tls_value == id && tls_big[511] == id;
    char expected[64];
    snprintf(expected, sizeof(expected), "thread %d", id);
    ok = ok && strcmp(tls_aligned, expected) == 0;
    return (void*)(uintptr_t)ok;
}

static pthread_key_t key;
static int destructor_calls;
static pthread_mutex_t destructor_lock = PTHREAD_MUTEX_INITIALIZER;

static void count_destructor(void* value)
{
    pthread_mutex_lock(&destructor_lock);
    destructor_calls += (int)(uintptr_t)value;
    pthread_mutex_unlock(&destructor_lock);
}

static void* use_key(void* unused)
{
    (void)unused;
    pthread_setspecific(key, (void*)1);
    return (void*)(uintptr_t)(pthread_getspecific(key) == (void*)1);
}

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int once_calls;
static void run_once(void) { ++once_calls; }

static void* call_once(void* unused)
{
    (void)unused;
    pthread_once(&once, run_once);
    return NULL;
}

static void test_tls(void)
{
    enum {
        thread_count = 8
    };
    pthread_t threads[thread_count];
    for (uintptr_t i = 0; i < thread_count; ++i)
        pthread_create(&threads[i], NULL, use_tls, (void*)(i + 1));
    int good = 0;
    for (int i = 0; i < thread_count; ++i) {
        void* ok = NULL;
        pthread_join(threads[i], &ok);
        good += (int)(uintptr_t)ok;
    }
    CHECK(good == thread_count, "threads that saw their own TLS: %d", good);
    CHECK(tls_value == 1234 && strcmp(tls_aligned, "initial") == 0, "main thread's TLS unchanged");
    printf("tls: %d of %d threads saw initialised, aligned, private __thread variables\n", good, thread_count);

    CHECK(pthread_key_create(&key, count_destructor) == 0, "pthread_key_create");
    for (int i = 0; i < thread_count; ++i)
        pthread_create(&threads[i], NULL, use_key, NULL);
    good = 0;
    for (int i = 0; i < thread_count; ++i) {
        void* ok = NULL;
        pthread_join(threads[i], &ok);
        good += (int)(uintptr_t)ok;
    }
    CHECK(good == thread_count && destructor_calls == thread_count, "keys %d destructors %d", good, destructor_calls);
    printf("tls: thread-specific data in %d threads, %d destructor calls\n", good, destructor_calls);

    for (int i = 0; i < thread_count; ++i)
        pthread_create(&threads[i], NULL, call_once, NULL);
    for (int i = 0; i < thread_count; ++i)
        pthread_join(threads[i], NULL);
    CHECK(once_calls == 1, "pthread_once ran %d times", once_calls);
    printf("once: %d threads, initialiser ran %d time\n", thread_count, once_calls);
}

// --- many threads alive at once, meeting at a barrier; a detached thread signalling a semaphore. ------------------
enum {
    many = 64
};
static pthread_barrier_t barrier;
static int serial_threads;

static void* meet(void* unused)
{
    (void)unused;
    int const result = pthread_barrier_wait(&barrier);
    if (result == PTHREAD_BARRIER_SERIAL_THREAD)
        __atomic_fetch_add(&serial_threads, 1, __ATOMIC_RELAXED);
    return (void*)(uintptr_t)(result == 0 || result == PTHREAD_BARRIER_SERIAL_THREAD);
}

static sem_t detached_done;
static void* detached(void* unused)
{
    (void)unused;
    sem_post(&detached_done);
    return NULL;
}

static void test_many_threads(void)
{
    pthread_t threads[many];
    pthread_attr_t attributes;
    pthread_attr_init(&attributes);
    // Small stacks: 64 threads with the default 8 MiB stacks would reserve half a gigabyte for nothing.
    pthread_attr_setstacksize(&attributes, 64 * 1024);
    pthread_barrier_init(&barrier, NULL, many + 1);
    int created = 0;
    for (int i = 0; i < many; ++i)
        created += pthread_create(&threads[i], &attributes, meet, NULL) == 0;
    CHECK(created == many, "created %d threads", created);
    int const result = pthread_barrier_wait(&barrier);
    if (result == PTHREAD_BARRIER_SERIAL_THREAD)
        __atomic_fetch_add(&serial_threads, 1, __ATOMIC_RELAXED);
    int good = 0;
    for (int i = 0; i < created; ++i) {
        void* ok = NULL;
        pthread_join(threads[i], &ok);
        good += (int)(uintptr_t)ok;
    }
    CHECK(good == many && serial_threads == 1, "barrier: %d passed, %d serial", good, serial_threads);
    printf("many: %d threads alive at once passed a barrier, %d serial thread\n", good, serial_threads);
    pthread_barrier_destroy(&barrier);

    sem_init(&detached_done, 0, 0);
    pthread_t thread;
    CHECK(pthread_create(&thread, &attributes, detached, NULL) == 0, "create detached");
    CHECK(pthread_detach(thread) == 0, "pthread_detach");
    CHECK(sem_wait(&detached_done) == 0, "sem_wait");
    printf("detached: the thread posted the semaphore\n");
    pthread_attr_destroy(&attributes);
}

int main(void)
{
    test_create_join();
    test_mutex();
    test_condvar();
    test_tls();
    test_many_threads();
    return check_summary("threads");
}
