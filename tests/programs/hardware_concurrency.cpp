// Prints what the C++ standard library reports as the number of hardware threads.
#include <iostream>
#include <thread>

int main() {
    std::cout << std::thread::hardware_concurrency() << '\n';
}
