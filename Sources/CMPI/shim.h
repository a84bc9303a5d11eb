// Accessors for OpenMPI's predefined handles: they are macros over global symbols,
// which Swift can neither import nor (under Swift 6 concurrency checking) reference.
#ifndef TESSERA_CMPI_SHIM_H
#define TESSERA_CMPI_SHIM_H
#include <mpi.h>

static inline MPI_Comm tessera_MPI_COMM_WORLD(void) { return MPI_COMM_WORLD; }
static inline MPI_Comm tessera_MPI_COMM_SELF(void) { return MPI_COMM_SELF; }
static inline MPI_Comm tessera_MPI_COMM_NULL(void) { return MPI_COMM_NULL; }

static inline MPI_Datatype tessera_MPI_FLOAT(void) { return MPI_FLOAT; }
static inline MPI_Datatype tessera_MPI_DOUBLE(void) { return MPI_DOUBLE; }
static inline MPI_Datatype tessera_MPI_INT32_T(void) { return MPI_INT32_T; }
static inline MPI_Datatype tessera_MPI_INT64_T(void) { return MPI_INT64_T; }
static inline MPI_Datatype tessera_MPI_UINT8_T(void) { return MPI_UINT8_T; }
static inline MPI_Datatype tessera_MPI_UINT16_T(void) { return MPI_UINT16_T; }
static inline MPI_Datatype tessera_MPI_UINT32_T(void) { return MPI_UINT32_T; }
static inline MPI_Datatype tessera_MPI_UINT64_T(void) { return MPI_UINT64_T; }
static inline MPI_Datatype tessera_MPI_BYTE(void) { return MPI_BYTE; }

static inline MPI_Op tessera_MPI_SUM(void) { return MPI_SUM; }
static inline MPI_Op tessera_MPI_MAX(void) { return MPI_MAX; }
static inline MPI_Op tessera_MPI_MIN(void) { return MPI_MIN; }
static inline MPI_Op tessera_MPI_BOR(void) { return MPI_BOR; }

static inline MPI_Errhandler tessera_MPI_ERRORS_RETURN(void) { return MPI_ERRORS_RETURN; }
static inline MPI_Request tessera_MPI_REQUEST_NULL(void) { return MPI_REQUEST_NULL; }
static inline MPI_Info tessera_MPI_INFO_NULL(void) { return MPI_INFO_NULL; }
static inline void *tessera_MPI_IN_PLACE(void) { return MPI_IN_PLACE; }
static inline MPI_Status *tessera_MPI_STATUS_IGNORE(void) { return MPI_STATUS_IGNORE; }
static inline MPI_Status *tessera_MPI_STATUSES_IGNORE(void) { return MPI_STATUSES_IGNORE; }
static inline int tessera_MPI_UNDEFINED(void) { return MPI_UNDEFINED; }

#endif
