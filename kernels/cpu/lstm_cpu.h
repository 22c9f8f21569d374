/* Fills the LSTM entries of the CPU backend's table. */
#ifndef AFS_LSTM_CPU_H
#define AFS_LSTM_CPU_H

#include "../backend.h"

void afs_lstm_cpu_install(afs_backend *b);

#endif
