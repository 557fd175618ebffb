#include <hdf5.h>

// HDF5 spells these as macros that call H5open() or cast; Swift cannot import them.
static inline hid_t loupe_h5_native_float(void) { return H5T_NATIVE_FLOAT; }
static inline hid_t loupe_h5_c_s1(void) { return H5T_C_S1; }
static inline hid_t loupe_h5p_default(void) { return H5P_DEFAULT; }
static inline hid_t loupe_h5s_all(void) { return H5S_ALL; }
static inline hid_t loupe_h5p_file_access(void) { return H5P_FILE_ACCESS; }
static inline unsigned loupe_h5f_acc_rdonly(void) { return H5F_ACC_RDONLY; }
static inline size_t loupe_h5t_variable(void) { return H5T_VARIABLE; }
// Turns off HDF5's automatic printing of its error stack; errors become Swift throws.
static inline herr_t loupe_h5_silence(void) { return H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }
// For writing (LoupeFormats/HDF5/HDF5Store.swift): extendible datasets and integer types.
static inline hid_t loupe_h5_native_int32(void) { return H5T_NATIVE_INT32; }
static inline hid_t loupe_h5_native_int64(void) { return H5T_NATIVE_INT64; }
static inline hid_t loupe_h5p_dataset_create(void) { return H5P_DATASET_CREATE; }
static inline unsigned loupe_h5f_acc_rdwr(void) { return H5F_ACC_RDWR; }
static inline unsigned loupe_h5f_acc_trunc(void) { return H5F_ACC_TRUNC; }
static inline hsize_t loupe_h5s_unlimited(void) { return H5S_UNLIMITED; }
